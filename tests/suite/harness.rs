//! Tests of the test harness itself: moto starts, answers and stops; a missing moto is a clear failure.

use kiln_tests::moto::{MotoError, MotoServer};

#[test]
fn moto_server_starts_on_a_loopback_port_answers_and_resets() {
    let moto = MotoServer::require();
    assert!(moto.endpoint().starts_with("http://127.0.0.1:"));
    let body: serde_json::Value = reqwest::blocking::get(format!("{}/moto-api/data.json", moto.endpoint()))
        .expect("moto answers")
        .json()
        .expect("moto answers JSON");
    assert!(body.is_object());
    moto.reset().expect("moto resets");
}

#[test]
fn a_missing_moto_is_an_error_that_says_how_to_install_it() {
    let err = MotoServer::start_with(std::path::Path::new("/nonexistent/moto_server")).unwrap_err();
    assert!(matches!(err, MotoError::Spawn { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/moto_server"), "{err}");
}

#[test]
fn moto_is_killed_when_the_handle_is_dropped() {
    let moto = MotoServer::require();
    let endpoint = moto.endpoint();
    drop(moto);
    assert!(reqwest::blocking::get(format!("{endpoint}/moto-api/data.json")).is_err());
}
