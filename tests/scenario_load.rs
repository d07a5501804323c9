use xaa_conform::scenario::load_dir;
const VALID: &str = "id: JAG-AUD-02\ntitle: t\nrequirement: { level: MUST, source: \"ID-JAG-04\" }\ntags: [claims, aud]\njag:\n  claims: { aud: \"https://other-ras.example/\" }\nexpect: { reject: invalid_grant }\n";
#[test]
fn probe() {
    let cases: Vec<(&str, String)> = vec![
        ("tags5", VALID.replace("tags: [claims, aud]", "tags: 5")),
        ("bogus", "id: A\ntitle: t\nbogus: 1\nrequirement: { level: MUST, source: s }\nexpect: { reject: invalid_grant }\n".into()),
        ("noexpect", "id: A\ntitle: t\nrequirement: { level: MUST, source: s }\ntags: [a]\n".into()),
        ("unclosed", VALID.replace("tags: [claims, aud]", "tags: [claims, aud")),
        ("sign", "id: A\ntitle: t\nrequirement: { level: MUST, source: s }\njag:\n  sign: nonsense\nexpect: { reject: invalid_grant }\n".into()),
        ("dup", "id: A\ntitle: t\nid: B\nrequirement: { level: MUST, source: s }\nexpect: { reject: invalid_grant }\n".into()),
        ("ph", "id: A\ntitle: t\nrequirement: { level: MUST, source: s }\njag:\n  claims: { sub: \"${nope}\" }\nexpect: { reject: invalid_grant }\n".into()),
        ("jagfield", "id: A\ntitle: t\nrequirement: { level: MUST, source: s }\njag:\n  claims: { sub: x }\n  bogus: 1\nexpect: { reject: invalid_grant }\n".into()),
        ("level", "id: A\ntitle: t\nrequirement: { level: MAYBE, source: s }\nexpect: { reject: invalid_grant }\n".into()),
        ("deep", format!("id: A\ntitle: {}\n", "[".repeat(10_000))),
        ("emptyreject", "id: A\ntitle: t\nrequirement: { level: MUST, source: s }\nexpect: { reject: [] }\n".into()),
    ];
    for (name, text) in cases {
        let d = tempfile::TempDir::new().unwrap();
        let p = d.path().join("s.yaml");
        std::fs::write(&p, &text).unwrap();
        let r = std::panic::catch_unwind(|| load_dir(d.path()));
        match r {
            Ok(Ok(v)) => println!("=== {name}: OK {}", v.len()),
            Ok(Err(e)) => println!("=== {name}: {:?} {:?}\n{e}\n", e.line, e.column),
            Err(_) => println!("=== {name}: PANIC"),
        }
    }
}
