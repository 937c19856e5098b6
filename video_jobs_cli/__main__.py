from video_jobs_cli.commands import main

main()
