"""Figures (matplotlib, plotly, image grids) and the HTML report."""
