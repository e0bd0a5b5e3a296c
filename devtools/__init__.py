"""Developer tools: the demo target, the Lambda runtime emulator driver and ``make demo``."""
