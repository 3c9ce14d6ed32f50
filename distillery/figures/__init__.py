"""The paper's data-analysis figures (Figs. 2-5) and two it lacks (Figs. 7-8), one module each.

Each module turns the per-sample statistics (:mod:`distillery.stats`) into the table it plots
(``table``) and draws that table (``draw``); :mod:`distillery.figures.style` holds the common look and
writes the PDF, the PNG and the table as CSV. A figure rule runs one module, so editing one figure's
code or style reruns that figure only.
"""
