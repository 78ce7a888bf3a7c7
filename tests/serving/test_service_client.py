"""Running the service from Python: the in-thread service checks and answers as the command."""

import pytest

from shared.run.notebook import tampered_copy
from shared.serving import local_service


def test_the_local_service_answers_over_http_with_its_key(deployed_project, tmp_path):
    with local_service.LocalService("sentiment", deployed_project.root,
                                     log_path=tmp_path / "log.sqlite") as service:
        client = service.client()
        assert client.get("/health").status == 200
        answer = client.post("/predict", {"texts": ["Superb film, I loved every minute"]})
        assert answer.status == 200 and answer.body["predictions"][0]["label"] == "positive"
        assert service.client(api_key="wrong-key-wrong-key").post(
            "/predict", {"texts": ["x y"]}).status == 401
        client.close()


def test_the_local_service_refuses_a_tampered_model_as_the_command_does(deployed_project,
                                                                       tmp_path):
    tampered = tmp_path / "models" / "sentiment" / "deployed"
    tampered_copy(deployed_project.deployed_dir, tampered)
    with pytest.raises(local_service.StartupError, match="model.skops does not match"):
        local_service.LocalService("sentiment", tmp_path).start()


def test_an_oversized_body_is_answered_413_every_time(deployed_project, tmp_path):
    # The service answers 413 and closes before it has read the body; the client
    # must still read that answer rather than fail on the half-sent upload (about one
    # request in twenty broke the pipe before the client read the waiting answer).
    with local_service.LocalService("sentiment", deployed_project.root,
                                     log_path=tmp_path / "log.sqlite") as service:
        client = service.client()
        limit = client.get("/model").body["limits"]["max_body_bytes"]
        too_large = b'{"texts": ["' + b"y" * limit + b'"]}'
        statuses = {client.post("/predict", body=too_large).status for _ in range(60)}
        assert statuses == {413}
        assert client.get("/health").status == 200
        client.close()
