"""fanout: fetch many URLs concurrently from AWS Lambda, within the invocation's deadline."""
