//! One line per table row, plus the rewrites.

use super::*;
use crate::lang::Preprocessed;

fn argv(s: &str) -> Vec<OsString> {
    s.split_whitespace().map(OsString::from).collect()
}

fn c(s: &str) -> Classified {
    classify(&argv(s))
}

fn job(s: &str) -> Job {
    match c(s) {
        Classified::Distribute(j) => j,
        other => panic!("{s}: expected Distribute, got {other:?}"),
    }
}

fn local(s: &str) -> LocalReason {
    match c(s) {
        Classified::Local(r) => r,
        other => panic!("{s}: expected Local, got {other:?}"),
    }
}

fn strs(v: &[OsString]) -> String {
    v.iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

fn server(s: &str) -> String {
    strs(&job(s).server_argv())
}

fn cpp(s: &str) -> String {
    strs(&job(s).cpp_argv())
}

#[test]
fn each_table_row() {
    assert!(matches!(
        local("gcc --coverage -c x.c"),
        LocalReason::WritesLocalFiles(_)
    ));
    assert_eq!(
        server("gcc --param max-inline-insns=5 -c x.c"),
        "gcc --param max-inline-insns=5 -c x.c -o x.o"
    );
    assert_eq!(server("gcc -D X -DY=1 -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(local("gcc -E x.c"), LocalReason::PreprocessOnly);
    assert_eq!(server("gcc -I inc -Iinc2 -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(server("gcc -L lib -Llib2 -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(local("gcc -M x.c"), LocalReason::DependenciesOnly);
    assert_eq!(server("gcc -MD -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(
        server("gcc -MD -MF x.dep -MFy.dep -c x.c"),
        "gcc -c x.c -o x.o"
    );
    assert_eq!(server("gcc -MD -MG -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(local("gcc -MM -c x.c"), LocalReason::DependenciesOnly);
    assert_eq!(server("gcc -MMD -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(server("gcc -MMD -MP -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(server("gcc -MD -MQ t -MQt2 -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(server("gcc -MD -MT t -MTt2 -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(job("gcc -S x.c").stop, Stop::Assembly);
    assert_eq!(server("gcc -T link.ld -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(server("gcc -U X -UY -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(
        server("gcc -Wa,--noexecstack -c x.c"),
        "gcc -Wa,--noexecstack -c x.c -o x.o"
    );
    assert_eq!(server("gcc -Wl,-z,now -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(server("gcc -Wp,-MD,x.d -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(
        server("gcc -Xassembler --x -c x.c"),
        "gcc -Xassembler --x -c x.c -o x.o"
    );
    assert_eq!(
        server("clang -Xclang y.c -c x.c"),
        "clang -Xclang y.c -c x.c -o x.o"
    );
    assert_eq!(server("gcc -Xlinker y.o -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(server("gcc -Xpreprocessor -P -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(
        server("clang -arch x86_64 -c x.c"),
        "clang -arch x86_64 -c x.c -o x.o"
    );
    assert_eq!(
        server("gcc -aux-info p.h -c x.c"),
        "gcc -aux-info p.h -c x.c -o x.o"
    );
    assert_eq!(job("gcc -c x.c").stop, Stop::Object);
    assert!(matches!(
        local("gcc -dr -c x.c"),
        LocalReason::WritesLocalFiles(_)
    ));
    assert_eq!(
        server("gcc -dumpbase y.c -c x.c"),
        "gcc -dumpbase y.c -c x.c -o x.o"
    );
    assert_eq!(
        server("gcc -dumpdir d/ -c x.c"),
        "gcc -dumpdir d/ -c x.c -o x.o"
    );
    assert!(matches!(
        local("gcc -fauto-profile=p -c x.c"),
        LocalReason::ReadsLocalFiles(_)
    ));
    assert!(matches!(
        local("gcc -fcallgraph-info -c x.c"),
        LocalReason::WritesLocalFiles(_)
    ));
    assert!(matches!(
        local("gcc -fdump-tree-all -c x.c"),
        LocalReason::WritesLocalFiles(_)
    ));
    assert!(matches!(
        local("gcc -fplugin=p.so -c x.c"),
        LocalReason::ReadsLocalFiles(_)
    ));
    // Options that choose the programs the compiler runs name this machine's files, and a
    // daemon refuses them: compile them here instead of paying for a refused round trip.
    for line in [
        "clang --gcc-install-dir=/opt/gcc -c x.c",
        "clang --gcc-toolchain=/opt/gcc -c x.c",
        "gcc --prefix=/opt/bin/ -c x.c",
        "gcc --specs=my.specs -c x.c",
        "gcc -B/opt/bin/ -c x.c",
        "gcc -B /opt/bin/ -c x.c",
        "clang -fpass-plugin=p.so -c x.c",
        "gcc -wrapper gdb,--args -c x.c",
    ] {
        assert!(
            matches!(local(line), LocalReason::ReadsLocalFiles(_)),
            "{line}"
        );
    }
    assert!(matches!(
        local("gcc -fprofile-arcs -c x.c"),
        LocalReason::WritesLocalFiles(_)
    ));
    assert!(matches!(
        local("clang -fprofile-instr-use=p -c x.c"),
        LocalReason::ReadsLocalFiles(_)
    ));
    assert!(matches!(
        local("clang -fprofile-sample-use=p -c x.c"),
        LocalReason::ReadsLocalFiles(_)
    ));
    assert!(matches!(
        local("gcc -fprofile-use -c x.c"),
        LocalReason::ReadsLocalFiles(_)
    ));
    assert!(matches!(
        local("g++ -frepo -c x.cc"),
        LocalReason::WritesLocalFiles(_)
    ));
    assert!(matches!(
        local("gcc -fstack-usage -c x.c"),
        LocalReason::WritesLocalFiles(_)
    ));
    assert!(matches!(
        local("gcc -ftest-coverage -c x.c"),
        LocalReason::WritesLocalFiles(_)
    ));
    assert!(matches!(
        local("clang -ftime-trace -c x.c"),
        LocalReason::WritesLocalFiles(_)
    ));
    assert!(matches!(
        local("gcc -gsplit-dwarf -c x.c"),
        LocalReason::WritesLocalFiles(_)
    ));
    assert_eq!(server("gcc -idirafter d -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(server("gcc -imacros m.h -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(server("gcc -imultilib d -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(
        server("gcc -include a.h -includeb.h -c x.c"),
        "gcc -c x.c -o x.o"
    );
    assert_eq!(server("gcc -iprefix p/ -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(server("gcc -iquote q -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(server("gcc -isysroot s -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(
        server("gcc -isystem s -isystems2 -c x.c"),
        "gcc -c x.c -o x.o"
    );
    assert_eq!(server("gcc -iwithprefix w -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(
        server("gcc -iwithprefixbefore w -c x.c"),
        "gcc -c x.c -o x.o"
    );
    assert_eq!(server("gcc -l m -lz -c x.c"), "gcc -c x.c -o x.o");
    assert!(matches!(
        local("gcc -march=native -c x.c"),
        LocalReason::NativeCpu(_)
    ));
    assert!(matches!(
        local("gcc -mcpu=native -c x.c"),
        LocalReason::NativeCpu(_)
    ));
    assert!(matches!(
        local("gcc -mtune=native -c x.c"),
        LocalReason::NativeCpu(_)
    ));
    assert_eq!(server("gcc -nostdinc -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(server("g++ -nostdinc++ -c x.cc"), "g++ -c x.cc -o x.o");
    assert_eq!(server("gcc -c x.c -o out/y.o"), "gcc -c x.c -o out/y.o");
    assert!(matches!(
        local("gcc -save-temps=obj -c x.c"),
        LocalReason::WritesLocalFiles(_)
    ));
    assert!(matches!(
        local("gcc -specs=my.specs -c x.c"),
        LocalReason::ReadsLocalFiles(_)
    ));
    assert_eq!(
        server("clang++ -stdlib=libc++ -c x.cc"),
        "clang++ -c x.cc -o x.o"
    );
    assert_eq!(
        server("clang -target aarch64-linux-gnu -c x.c"),
        "clang -target aarch64-linux-gnu -c x.c -o x.o"
    );
    assert_eq!(server("gcc -u sym -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(server("gcc -undef -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(server("gcc -x c -c x.c"), "gcc -c x.c -o x.o");
    assert_eq!(server("gcc -z now -c x.c"), "gcc -c x.c -o x.o");
}

#[test]
fn local_reasons() {
    assert_eq!(local("gcc x.c -o x"), LocalReason::Linking);
    assert_eq!(local("gcc x.o y.o -o prog"), LocalReason::Linking);
    assert_eq!(c("gcc --version"), Classified::NotACompile);
    assert_eq!(local("gcc -c x.c y.c"), LocalReason::SeveralInputs);
    assert_eq!(local("gcc -c x.c lib.a"), LocalReason::SeveralInputs);
    assert_eq!(local("gcc -x c -c -"), LocalReason::StdinInput);
    assert_eq!(local("gcc -c x.S"), LocalReason::AssemblerSource);
    assert_eq!(local("gcc -c"), LocalReason::NoSource);
    assert_eq!(
        local("gcc -x assembler-with-cpp -c x.c"),
        LocalReason::UnknownLanguage("assembler-with-cpp".into())
    );
    assert_eq!(
        local("gcc -x c++ -c x.c"),
        LocalReason::LanguageDiffersFromExtension("c++".into())
    );
    assert_eq!(local("gcc -c x.c -o -"), LocalReason::OutputToStdout);
    assert!(matches!(
        local("gcc -Wa,-adhln=x.lst -c x.c"),
        LocalReason::AssemblerOutput(_)
    ));
    assert!(matches!(
        local("gcc -Wa,--MD,x.d -c x.c"),
        LocalReason::AssemblerOutput(_)
    ));
    assert_eq!(local("gcc @args -c x.c"), LocalReason::ResponseFile);
    assert_eq!(
        local("gcc -c x.c -o"),
        LocalReason::MissingValue("-o".into())
    );
    for r in [
        LocalReason::Linking,
        LocalReason::SeveralInputs,
        LocalReason::StdinInput,
    ] {
        assert!(!r.to_string().is_empty());
    }
}

#[test]
fn languages_and_outputs() {
    let j = job("g++ -c src/a.cpp");
    assert_eq!(j.language, Language::Cxx);
    assert_eq!(j.output, OsString::from("a.o"));
    assert!(!j.output_given);
    assert_eq!(job("gcc -S dir/b.c").output, OsString::from("b.s"));
    assert_eq!(job("gcc -c -S b.c").stop, Stop::Assembly);
    assert_eq!(
        job("gcc -c x.i").language,
        Language::Preprocessed(Preprocessed::C)
    );
    assert!(job("gcc -c x.mii").is_preprocessed());
    assert_eq!(
        job("gcc -x objective-c -c x.m").preprocessed_extension(),
        "mi"
    );
    // -x after the source does not apply to it; -x none resets.
    assert_eq!(job("gcc -c x.c -x c++").language, Language::C);
    assert_eq!(job("gcc -x c++ -x none -c x.c").language, Language::C);
    assert_eq!(job("gcc -c x.c -ofoo.o").output, OsString::from("foo.o"));
    // The value of a separate-value option is never taken for an input file.
    assert_eq!(job("gcc -MF dep.c -MD -c x.c").input, OsString::from("x.c"));
}

#[test]
fn cpp_argv_replaces_action_drops_output_and_names_deps() {
    assert_eq!(cpp("gcc -O2 -c x.c -o out/x.o"), "gcc -O2 -E x.c");
    assert_eq!(cpp("gcc -c -c x.c"), "gcc -E -E x.c");
    assert_eq!(cpp("gcc -DX -c x.c -oy.o"), "gcc -DX -E x.c");
    assert_eq!(
        cpp("gcc -MD -c x.c -o out/x.o"),
        "gcc -MD -E x.c -MF out/x.d -MQ out/x.o"
    );
    assert_eq!(cpp("gcc -MMD -c src/x.c"), "gcc -MMD -E src/x.c -MF x.d");
    assert_eq!(
        cpp("gcc -MD -MF f.d -c x.c -o x.o"),
        "gcc -MD -MF f.d -E x.c -MQ x.o"
    );
    assert_eq!(
        cpp("gcc -MD -MT t -c x.c -o x.o"),
        "gcc -MD -MT t -E x.c -MF x.d"
    );
    assert_eq!(
        cpp("gcc -MD -c x.c -o d.x/noext"),
        "gcc -MD -E x.c -MF d.x/noext.d -MQ d.x/noext"
    );
    assert_eq!(
        cpp("gcc -Wp,-MD,x.d -c x.c -o x.o"),
        "gcc -Wp,-MD,x.d -E x.c"
    );
}

#[test]
fn server_argv_keeps_source_name_and_output() {
    assert_eq!(
        server("gcc -O2 -Wall -DX -Iinc -c src/x.c -o out/x.o"),
        "gcc -O2 -Wall -c src/x.c -o out/x.o"
    );
    assert_eq!(
        server("gcc -MD -MF x.d -MT x.o -c x.c"),
        "gcc -c x.c -o x.o"
    );
}

#[test]
fn empty_output_name_runs_locally_for_gcc_to_refuse() {
    // Found by the argv fuzz body: `-o ''` was distributed with an empty output name.
    let words: Vec<OsString> = ["gcc", "-c", "x.c", "-o", ""].map(OsString::from).to_vec();
    assert_eq!(
        classify(&words),
        Classified::Local(LocalReason::MissingValue("-o".into()))
    );
}
