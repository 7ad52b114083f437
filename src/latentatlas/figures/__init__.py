"""Drawing only: matplotlib figures through its object API, plotly figures, image grids and GIFs.

Nothing here reads a run folder or picks a matplotlib backend: every static figure
is a `matplotlib.figure.Figure` on its own Agg canvas (`canvas.new_figure`), so a
library caller's `matplotlib.use(...)` and pyplot state stay as they were. The
stages (training, latent, judge) call these and record each figure in their
metrics.json section, saying which report section it belongs to (one of
`SECTIONS`); the report lays them out from there.

    grids        make_grid, save_grid_png, save_gif (Pillow, no matplotlib)
    images       labelled_grid, means_heatmap, label_heatmap, distance_bars, manifold_figure,
                 strip_png, walk_gif, tour_gif
    latent       scatter_2d, spectrum, confusion_matrix
    curves       loss_figure (and save_loss_curves): loss per epoch from history rows
    interactive  scatter_3d_figure, write_html, embed_snippet (plotly)
    canvas       new_figure, save_figure, png_bytes
    pixels       displayable, drawable, ...: image stacks come channel-first, (N, C, H, W) with
                 C = 1 (grey, drawn with the grey colour map) or 3 (RGB); this is the one place
                 that turns them into what Pillow and matplotlib draw
"""

# Report sections a stage may file a figure under (the "section" key of a figure dict in
# metrics.json). stages/report/html.py gives them their titles and order.
SECTIONS = ("data", "training", "reconstructions", "projections", "pca", "probes", "clustering",
            "generation", "walks")
