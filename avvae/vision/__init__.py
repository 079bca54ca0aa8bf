"""Faces in video frames: their landmarks, and the mouth boxes and crops cut from them."""
