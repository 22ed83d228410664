# fish completion for distccmon-text; generated from its option table by distcc-rs
