# fish completion for distcc-reapi; generated from its option table by distcc-rs
complete -c distcc-reapi -l engine -x -d 'The engine to join (required)'
complete -c distcc-reapi -l daemon -x -d 'The distccd that runs the jobs (default 127.0.0.1:3632)'
complete -c distcc-reapi -l bots -x -d 'Bot sessions, each running one job at a time (default: the number of CPUs)'
complete -c distcc-reapi -l compiler -x -d 'A compiler to offer, repeatable (default cc gcc c++ g++ clang clang++; those that do not run are left out)'
complete -c distcc-reapi -l property -x -d 'Extra platform properties to advertise, repeatable'
