"""One Processing algorithm per riogrande job, on a shared base class."""
