"""Automated QC: measurements of takes, voice lines and finals (analysis), subtitle fit (text_fit)."""
