# fish completion for pump; generated from its option table by distcc-rs
complete -c pump -n '__fish_is_first_arg' -a '(__fish_complete_command)'
complete -c pump -l startup -d 'Start the include server and print export lines for the environment, to be eval\'ed by the caller'
complete -c pump -l shutdown -d 'Stop the include server named by INCLUDE_SERVER_PID and INCLUDE_SERVER_DIR, and remove its directory'
complete -c pump -s h -l help -d 'Explain usage, and exit'
