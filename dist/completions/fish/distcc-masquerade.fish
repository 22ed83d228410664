# fish completion for distcc-masquerade; generated from its option table by distcc-rs
complete -c distcc-masquerade -l dir -r -a '(__fish_complete_directories)' -d 'The masquerade directory (default $DISTCC_DIR/masquerade, else ~/.distcc/masquerade)'
complete -c distcc-masquerade -l distcc -r -F -d 'The distcc client the links point to (default: distcc found on PATH)'
complete -c distcc-masquerade -l bin-dir -r -a '(__fish_complete_directories)' -d 'Where compilers are looked for (default /usr/bin)'
complete -c distcc-masquerade -s n -l dry-run -d 'Print what would be added and removed; change nothing'
complete -c distcc-masquerade -s h -l help -d 'Explain usage, and exit'
