"""Pages for people: ``page.JobViewer`` fills ``viewer.html`` (one job's results), and
``library.LibraryPages`` fills ``library.html`` (a tenant's jobs, thumbnails and search box);
``page`` holds what both share (the template, its hashes, the security headers). Imports
``jobs``, ``adapters`` and ``access`` (for links)."""
