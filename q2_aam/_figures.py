"""Figures of the visualizers, saved the one way they all are: PNG for the
page and SVG to download, then closed (pyplot keeps every open figure)."""
import os


def save_figure(figure, output_dir: str, stem: str, dpi: int = 110, **options) -> str:
    """`stem`.png and `stem`.svg in `output_dir`; returns `stem`."""
    for extension in ('png', 'svg'):
        figure.savefig(os.path.join(output_dir, f'{stem}.{extension}'), dpi=dpi,
                       **options)
    import matplotlib.pyplot as plt
    plt.close(figure)
    return stem
