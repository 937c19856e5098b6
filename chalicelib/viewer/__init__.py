"""The results viewer: ``page.JobViewer`` fills ``viewer.html`` (one self-contained page) for one
job. Imports ``jobs``, ``adapters`` and ``access`` (for links)."""
