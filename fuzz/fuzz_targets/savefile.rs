//! Fuzz target: classic pcap files as apisonar-wire's `savefile` decodes them, read in pieces
//! as the binary's block reader reads them (`fuzzing::savefile_in_pieces`), and against libpcap
//! reading the same bytes from a file: the same frames, stamps and lengths, the same end, and
//! the same words for the damage. (The input's first two bytes choose the pieces' size.)
#![no_main]

use apisonar_wire::savefile::{read_all, Record};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    apisonar_wire::fuzzing::savefile_in_pieces(data);
    let file = data.get(2..).unwrap_or_default();
    let Some((_, records)) = read_all(file) else { return };
    let path = std::env::temp_dir().join(format!("apisonar-fuzz-savefile-{}.pcap", std::process::id()));
    std::fs::write(&path, file).expect("the scratch file is written");
    let mut libpcap = pcap::Capture::from_file(&path).expect("libpcap opens every file the decoder takes");
    for record in records {
        match (record, libpcap.next_packet()) {
            (Record::Frame { secs, micros, data, wire_len, .. }, Ok(p)) => assert_eq!(
                (secs, micros, data, wire_len),
                (p.header.ts.tv_sec, p.header.ts.tv_usec, p.data, p.header.len)
            ),
            (Record::End, Err(pcap::Error::NoMorePackets)) => {}
            (Record::Damaged(ours), Err(pcap::Error::PcapError(theirs))) => assert_eq!(ours, theirs),
            (ours, theirs) => panic!("{ours:?} against libpcap's {theirs:?}"),
        }
    }
});
