"""SpineMed Space: SpineBench leaderboard (server-side rescoring), benchmark explorer, SpineGPT chat.

This file is what the Hub runs (`python app.py`).  All logic lives in the `spinemed` library
(`spinemed.space`), uploaded next to this file by `spinemed space --push`.  Configure the
Space with variables and secrets in its settings (see README.md):
SPINEMED_BENCH, SPINEMED_RESULTS_REPO (+ HF_TOKEN secret), SPINEMED_CHAT_MODEL, SPINEMED_JUDGE.
Locally: `spinemed space --help`.
"""

from spinemed.space.app import create_app

demo, launch_kwargs = create_app()

if __name__ == "__main__":
    demo.launch(**launch_kwargs)
