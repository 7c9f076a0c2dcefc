"""Evaluating trained runs: test error under the paper's protocols (`evaluate`: centre crop,
10-crop, multi-scale) and Figure 7's layer responses (`analysis`)."""
