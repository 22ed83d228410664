# fish completion for distcc-coordinator; generated from its option table by distcc-rs
complete -c distcc-coordinator -l listen -x -d 'IP address to listen on (default 0.0.0.0)'
complete -c distcc-coordinator -l port -x -d 'The one port for daemons, clients and the pages (default 3634)'
complete -c distcc-coordinator -l lease-secs -x -d 'Longest life of a lease (default 3600); a lease also ends when its client\'s connection closes'
complete -c distcc-coordinator -l daemon-silence -x -d 'A daemon not heard from for this long is dropped (default 15; daemons report at least every 5 s)'
complete -c distcc-coordinator -s v -l verbose -d 'Log connections and registrations to stderr'
complete -c distcc-coordinator -s h -l help -d 'Explain usage, and exit'
complete -c distcc-coordinator -l version -d 'Print the version, and exit'
