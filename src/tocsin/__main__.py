"""``python -m tocsin`` runs the command-line interface."""

from tocsin.cli import main

if __name__ == "__main__":
    main()
