"""AWS plumbing: cached clients, DynamoDB helpers, leases, and the assignment queue."""
