"""The adapters: one module per AWS resource (and the simulated bank), each implementing a
domain port, turning AWS's errors into domain errors."""
