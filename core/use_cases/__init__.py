"""The use cases (service layer): create and submit payments, read and list them, process
a job with the bank, reconcile what stalls. They depend on the domain and its ports only;
the composition root (core/bootstrap.py) hands them adapters."""
