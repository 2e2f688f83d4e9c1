"""One program builder per language (`build(check, mutation) -> Built`), and the C-like lexer that the
C++ and Java builders share. `pytest_shim.py` is the stand-in pytest put next to Python programs."""
