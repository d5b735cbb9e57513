from pathlib import Path

import evaluate
from evaluate.utils import launch_gradio_widget

# Load the sibling module file: works in a checkout and in the published metric Space alike.
module = evaluate.load(str(Path(__file__).with_name("spinebench.py")))
launch_gradio_widget(module)
