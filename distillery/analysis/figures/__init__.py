"""The paper's figures (Figs. 2-6) and two it lacks (Figs. 7-8), one module each, named as the figure.

The registry that says what each is drawn from is :mod:`distillery.plan.figure_registry`; :mod:`.render` draws
one; :mod:`.style` is the common look.
"""
