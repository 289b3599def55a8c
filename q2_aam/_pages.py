"""The visualizers' pages: assets/<page>/index.html, each on the frame all
pages share (assets/page.html, on q2templates' base.html) with the macros
they share (assets/macros.html).

q2templates.render renders a page from a copy of the page alone, where a
file beside it cannot be found; so the pages are rendered here, with a
loader that finds the shared files and q2templates' own templates, and
q2templates' style assets are copied beside them as it would copy them.
"""
import os
import shutil

ASSETS = os.path.join(os.path.dirname(__file__), 'assets')


def render(page: str, output_dir: str, context: dict) -> None:
    """Write the page `page` (a folder of assets), filled in from `context`,
    to output_dir as index.html."""
    import jinja2
    import q2templates
    q2_templates = os.path.join(os.path.dirname(q2templates.__file__), 'templates')
    # q2templates' environment: its settings (no autoescaping), other loaders
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader([ASSETS, q2_templates]))
    html = environment.get_template(f'{page}/index.html').render(context)
    with open(os.path.join(output_dir, 'index.html'), 'w', encoding='utf-8') as fh:
        fh.write(html)
    shutil.copytree(os.path.join(q2_templates, 'assets'),
                    os.path.join(output_dir, 'q2templateassets'),
                    ignore=shutil.ignore_patterns('.*'))
