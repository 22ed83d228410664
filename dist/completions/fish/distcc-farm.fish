# fish completion for distcc-farm; generated from its option table by distcc-rs
complete -c distcc-farm -l stats-port -x -d 'Ask every host on this port; default: each host\'s port + 1 (3633 for 3632)'
complete -c distcc-farm -l timeout -x -d 'Connect and read timeout per host, fractional (default 2)'
complete -c distcc-farm -l help -d 'Explain usage, and exit'
