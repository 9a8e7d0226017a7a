"""The peer a user would write by hand: FastAPI + uvicorn around predict_proba, one row per call.

Served only by bench/serving.py, for comparison; MODEL_PATH names the joblib file.
"""

import os
from typing import Any

import joblib
import pandas as pd
from fastapi import FastAPI

app = FastAPI()
model = joblib.load(os.environ["MODEL_PATH"])


@app.post("/predict")
def predict(customer: dict[str, Any]) -> dict[str, float]:
    return {"churn_probability": float(model.predict_proba(pd.DataFrame([customer]))[0, 1])}
