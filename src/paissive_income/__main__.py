"""Run the command line with ``python -m paissive_income``."""

from paissive_income.cli import main

if __name__ == "__main__":
    main(prog_name="paissive-income")
