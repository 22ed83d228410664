# fish completion for distcc-zeroconf; generated from its option table by distcc-rs
complete -c distcc-zeroconf -s h -l help -d 'Explain usage, and exit'
