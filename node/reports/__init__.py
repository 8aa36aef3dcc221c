"""After-action reports: rendering a report's JSON dict into PNG plots and a standalone HTML page (render)."""
