"""Pure rules of duban: no I/O, time comes in as arguments."""
