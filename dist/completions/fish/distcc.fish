# fish completion for distcc; generated from its option table by distcc-rs
complete -c distcc -n '__fish_is_first_arg' -a '(__fish_complete_command)'
complete -c distcc -l help -d 'Explain usage, and exit'
complete -c distcc -l version -d 'Show version, and exit'
complete -c distcc -l show-hosts -d 'Show the host list (as parsed from DISTCC_HOSTS or the hosts files), and exit'
complete -c distcc -s j -d 'Show the concurrency level, as calculated from the host list (the sum of the slots of every host), and exit'
complete -c distcc -l show-stats -d 'Show this user\'s statistics (jobs per host, local compiles, fallbacks and backoffs by reason), and exit'
complete -c distcc -l zero-stats -d 'Start the statistics afresh, and exit'
complete -c distcc -l scan-includes -d '3.4\'s pump-mode include listing; not implemented: exits 101 with a message'
