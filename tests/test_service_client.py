"""Running the service from Python: the in-thread service checks and answers as the command."""

import pytest

from shared import service_client
from shared.notebook import tampered_copy


def test_the_local_service_answers_over_http_with_its_key(deployed_project, tmp_path):
    with service_client.LocalService("sentiment", deployed_project.root,
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
    with pytest.raises(service_client.StartupError, match="model.skops does not match"):
        service_client.LocalService("sentiment", tmp_path).start()
