//! Writes a hostile capture of the adversarial suite: `make-hostile-capture NAME FILE`, or
//! `make-hostile-capture --list`.

use std::fs::File;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--list") {
        for (name, what) in apisonar_testkit::hostile::CAPTURES {
            println!("{name}\t{what}");
        }
        return Ok(());
    }
    let (Some(name), Some(path)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: make-hostile-capture NAME FILE | --list");
        std::process::exit(2);
    };
    if !apisonar_testkit::hostile::write(name, File::create(path)?)? {
        eprintln!("no hostile capture named {name} (see --list)");
        std::process::exit(2);
    }
    Ok(())
}
