"""Client of the teacher service (`kd.teacher.v1` over gRPC), used by the student trainer.

`TeacherClient` spreads batched TopK / Score / Generate calls over teacher replicas with deadlines,
retries and failover; `s2s.local_teacher.InProcessTeacher` offers the same API on a local model.
"""

from s2s.teacher.contract import TeacherError, TeacherInfo, TeacherInputError, TeacherLimitError, TopKResult
from teacher_client.client import TeacherClient, TeacherRpcError

__all__ = ["TeacherClient", "TeacherError", "TeacherInfo", "TeacherInputError", "TeacherLimitError", "TeacherRpcError",
           "TopKResult"]
