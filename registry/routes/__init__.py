"""HTTP routes, one module per area. Routes parse and answer; services do the work."""
