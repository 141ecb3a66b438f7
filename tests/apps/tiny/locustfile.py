from locust import HttpUser, between, task


class Shopper(HttpUser):
    wait_time = between(0.01, 0.05)

    @task(3)
    def browse(self) -> None:
        self.client.get("/items")

    @task(1)
    def order(self) -> None:
        self.client.post("/orders", json={"item": 7}, headers={"X-Token": "plain"})
