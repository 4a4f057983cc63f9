"""Start pAIssive Income locally: ``python run_ui.py`` (same as ``paissive-income serve``)."""

from paissive_income.web.cli import serve

if __name__ == "__main__":
    serve(prog_name="run_ui.py")
