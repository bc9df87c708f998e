"""Constitutions of medicinal-chemistry principles and the judges that apply them to molecules."""
