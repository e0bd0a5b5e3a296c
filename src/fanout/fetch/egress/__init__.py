"""The egress guard: the address table and its classifier (``rules``), the policy and its URL
checks (``policy``), and a run's checked name resolutions (``lookups``)."""
