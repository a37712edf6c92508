"""One function per paper table: computes a tidy DataFrame; ``paper_values`` holds the papers' numbers."""
