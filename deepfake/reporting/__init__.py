"""What a person reads: plots, the plain-text tables evaluate.py prints and the self-contained HTML report."""
