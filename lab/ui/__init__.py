"""The live dashboard (Textual): panes, topology map, command bar, help, themes.

The only package that imports textual. Data comes from lab.backend.watch (a worker thread posting
Updates as messages); commands go through lab.engine in worker threads. Entry point: lab.ui.app.
"""
