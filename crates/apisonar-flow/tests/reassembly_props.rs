//! Property: reassembled output does not depend on the order in which a direction's segments
//! arrive before they are acknowledged, nor on duplicated segments.

mod common;

use apisonar_flow::Limits;
use apisonar_testkit::conv::Frame;
use apisonar_testkit::{Conversation, Side};
use proptest::prelude::*;

const REQUEST: &[u8] = b"POST /api/v1/orders?expand=items HTTP/1.1\r\nHost: shop.test\r\nContent-Type: application/json\r\nContent-Length: 43\r\n\r\n{\"item\":\"book\",\"quantity\":3,\"gift\":false}\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"id\":\"a1b2c3d4\"\r\n1\r\n}\r\n0\r\n\r\n";

/// Builds the conversation; `order` permutes and duplicates each direction's segments.
fn conversation(mss: usize, client_order: &[usize], server_order: &[usize]) -> Vec<Frame> {
    let mut c = Conversation::new(([192, 0, 2, 1], 41000), ([192, 0, 2, 2], 8080), 0);
    c.handshake();
    for (side, data, order) in [(Side::Client, REQUEST, client_order), (Side::Server, RESPONSE, server_order)] {
        let segs = c.segments(side, data, mss);
        for &i in order {
            if let Some((_, frame)) = segs.get(i % segs.len()) {
                c.push(frame.clone());
            }
        }
        // Make sure every segment was sent at least once.
        for (_, frame) in &segs {
            c.push(frame.clone());
        }
        c.ack(side);
    }
    c.close();
    c.frames
}

fn rendered(frames: &[Frame]) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    common::run(frames, Limits::default())
        .iter()
        .map(|t| {
            let resp = t.response.as_ref().map(|r| r.body.sample.clone()).unwrap_or_default();
            (common::render(t), t.request.body.sample.clone(), resp)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn order_and_duplication_do_not_change_output(
        mss in 1usize..64,
        client_order in proptest::collection::vec(0usize..400, 0..40),
        server_order in proptest::collection::vec(0usize..400, 0..40),
    ) {
        let baseline = rendered(&conversation(mss, &[], &[]));
        prop_assert_eq!(baseline.len(), 1);
        prop_assert_eq!(&baseline[0].0, "POST /api/v1/orders?expand=items -> 201 (req 43, resp 17)");
        let shuffled = rendered(&conversation(mss, &client_order, &server_order));
        prop_assert_eq!(shuffled, baseline);
    }
}
