def test_the_support_page_starts_a_session(client, db):
    response = client.get("/")

    assert response.status_code == 200
    assert "sessionid" in response.cookies
    assert client.session.session_key
    for element_id in ("log", "question", "send", "escalate", "email"):
        assert f'id="{element_id}"' in response.content.decode()


def test_the_support_page_keeps_an_existing_session(client, db):
    client.get("/")
    first = client.session.session_key
    client.get("/")
    assert client.session.session_key == first
