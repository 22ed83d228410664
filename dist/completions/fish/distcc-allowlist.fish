# fish completion for distcc-allowlist; generated from its option table by distcc-rs
complete -c distcc-allowlist -l dir -r -a '(__fish_complete_directories)' -d 'The allow-list directory to fill (default: DISTCCD_ALLOWED_COMPILERS, else /usr/lib/distcc, as distccd)'
complete -c distcc-allowlist -l bin-dir -r -a '(__fish_complete_directories)' -d 'Where compilers are looked for (default /usr/bin)'
complete -c distcc-allowlist -l target -r -F -d 'What each entry links to (default: the distcc client, ../../bin/distcc in /usr/lib/distcc, so the directory doubles as a masquerade directory)'
complete -c distcc-allowlist -s n -l dry-run -d 'Print what would be added and removed; change nothing'
complete -c distcc-allowlist -l list -d 'Print the compilers found, one per line, and exit'
complete -c distcc-allowlist -s v -l verbose -d 'Print each entry added or removed'
complete -c distcc-allowlist -s h -l help -d 'Explain usage, and exit'
