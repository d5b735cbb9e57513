"""The SpineMed Space: SpineBench leaderboard with server-side rescoring, benchmark explorer,
SpineGPT chat.  `space_app/app.py` (what is pushed to the Hub) and `spinemed space` both call
:func:`spinemed.space.app.create_app`; the logic lives in this package so it is tested
without a browser.

Modules: `config` (settings from flags / environment), `bench` (the served SpineBench),
`leaderboard` (rows, filters, chart), `submissions` (upload validation and rescoring),
`store` (results folder + Hub mirror), `chat` (streaming backends), `safety` (escaping),
`app` (the Gradio layout), `push` (uploading the Space), `cli` (`spinemed space`).
"""
